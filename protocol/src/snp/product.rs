//! AMD EPYC product lines that sign SEV-SNP reports, and how each is recognised.

/// A product line with its own AMD root key (ARK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Product {
    /// EPYC 7003 (Zen 3).
    Milan,
    /// EPYC 9004/8004 (Zen 4; Bergamo and Siena share Genoa's keys).
    Genoa,
    /// EPYC 9005 (Zen 5).
    Turin,
}

impl Product {
    /// All products, in the order roots are listed.
    pub const ALL: [Self; 3] = [Self::Milan, Self::Genoa, Self::Turin];

    /// The name AMD uses in certificate names (`ARK-Milan`, `SEV-Milan`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Milan => "Milan",
            Self::Genoa => "Genoa",
            Self::Turin => "Turin",
        }
    }

    /// From a version 3+ report's CPUID family and model (AMD PPR; KDS uses the same
    /// mapping).
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(Self::Milan),
            (0x19, 0x10..=0x1F | 0xA0..=0xAF) => Some(Self::Genoa),
            (0x1A, 0x00..=0x11) => Some(Self::Turin),
            _ => None,
        }
    }

    /// From the VCEK/VLEK `productName` extension ("Milan-B0", "Genoa", "Turin").
    pub fn from_product_name(name: &str) -> Option<Self> {
        let line = name.split('-').next().unwrap_or(name);
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(line))
    }

    /// From an intermediate's common name (`SEV-Milan`, `SEV-VLEK-Genoa`) or a root's
    /// (`ARK-Turin`).
    pub fn from_ca_common_name(cn: &str) -> Option<Self> {
        let last = cn.rsplit('-').next()?;
        Self::ALL.into_iter().find(|p| p.name() == last)
    }

    /// Whether the VCEK HWID for this product is the 8-byte form (Turin onwards).
    pub fn short_hwid(self) -> bool {
        matches!(self, Self::Turin)
    }
}

impl std::fmt::Display for Product {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_products() {
        assert_eq!(Product::from_cpuid(0x19, 0x01), Some(Product::Milan));
        assert_eq!(Product::from_cpuid(0x19, 0x11), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x1A, 0x02), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x17, 0x31), None);
        assert_eq!(Product::from_product_name("Milan-B0"), Some(Product::Milan));
        assert_eq!(Product::from_product_name("Turin"), Some(Product::Turin));
        assert_eq!(Product::from_ca_common_name("SEV-VLEK-Genoa"), Some(Product::Genoa));
        assert_eq!(Product::from_ca_common_name("ARK-Milan"), Some(Product::Milan));
        assert_eq!(Product::from_ca_common_name("SEV-VCEK"), None);
    }
}
