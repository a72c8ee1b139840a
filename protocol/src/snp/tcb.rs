//! TCB_VERSION: the security patch levels a report and a VCEK or VLEK certificate name.
//!
//! The same 8 bytes are laid out differently by product (SNP ABI spec, TCB_VERSION):
//!
//! ```text
//! Milan, Genoa: [bootloader, tee, 0, 0, 0, 0, snp, microcode]
//! Turin:        [fmc, bootloader, tee, snp, 0, 0, 0, microcode]
//! ```

use crate::snp::product::Product;

/// The raw 8 bytes of a TCB_VERSION field, as stored in the report.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RawTcb(pub [u8; 8]);

impl std::fmt::Debug for RawTcb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawTcb({})", hex::encode(self.0))
    }
}

/// A decoded TCB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Tcb {
    /// Bootloader SPL.
    pub bootloader: u8,
    /// PSP OS (TEE) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// CPU microcode SPL.
    pub microcode: u8,
    /// Firmware Mask ROM/FMC SPL (Turin onwards; `None` before).
    pub fmc: Option<u8>,
}

/// One TCB component, for naming in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TcbComponent {
    /// Bootloader SPL.
    Bootloader,
    /// TEE SPL.
    Tee,
    /// SNP SPL.
    Snp,
    /// Microcode SPL.
    Microcode,
    /// FMC SPL (Turin).
    Fmc,
}

impl std::fmt::Display for TcbComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bootloader => "bootloader",
            Self::Tee => "tee",
            Self::Snp => "snp",
            Self::Microcode => "microcode",
            Self::Fmc => "fmc",
        })
    }
}

impl RawTcb {
    /// Decode with the product's layout. Bytes the layout marks reserved must be
    /// zero; the caller has already refused reports with non-zero reserved fields,
    /// and these bytes are returned as an error so nothing is silently ignored.
    pub fn decode(self, product: Product) -> Result<Tcb, (usize, u8)> {
        let b = self.0;
        let (tcb, reserved): (Tcb, &[usize]) = match product {
            Product::Milan | Product::Genoa => {
                (Tcb { bootloader: b[0], tee: b[1], snp: b[6], microcode: b[7], fmc: None }, &[2, 3, 4, 5])
            }
            Product::Turin => {
                (Tcb { fmc: Some(b[0]), bootloader: b[1], tee: b[2], snp: b[3], microcode: b[7] }, &[4, 5, 6])
            }
        };
        match reserved.iter().find(|&&i| b[i] != 0) {
            Some(&i) => Err((i, b[i])),
            None => Ok(tcb),
        }
    }
}

impl Tcb {
    /// Encode with the product's layout.
    pub fn encode(&self, product: Product) -> RawTcb {
        RawTcb(match product {
            Product::Milan | Product::Genoa => [self.bootloader, self.tee, 0, 0, 0, 0, self.snp, self.microcode],
            Product::Turin => [self.fmc.unwrap_or(0), self.bootloader, self.tee, self.snp, 0, 0, 0, self.microcode],
        })
    }

    /// Each component with its value, fmc only where the product has it.
    pub fn components(&self) -> Vec<(TcbComponent, u8)> {
        let mut v = vec![
            (TcbComponent::Bootloader, self.bootloader),
            (TcbComponent::Tee, self.tee),
            (TcbComponent::Snp, self.snp),
            (TcbComponent::Microcode, self.microcode),
        ];
        if let Some(fmc) = self.fmc {
            v.push((TcbComponent::Fmc, fmc));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_real_reports() {
        // REPORTED_TCB bytes of the Milan and Turin vectors in shared/vectors/snp.
        let milan = RawTcb([0x03, 0, 0, 0, 0, 0, 0x08, 0x73]).decode(Product::Milan).unwrap();
        assert_eq!(milan, Tcb { bootloader: 3, tee: 0, snp: 8, microcode: 0x73, fmc: None });
        let turin = RawTcb([1, 1, 1, 4, 0, 0, 0, 0x51]).decode(Product::Turin).unwrap();
        assert_eq!(turin, Tcb { fmc: Some(1), bootloader: 1, tee: 1, snp: 4, microcode: 0x51 });
        assert_eq!(turin.encode(Product::Turin).0, [1, 1, 1, 4, 0, 0, 0, 0x51]);
        assert_eq!(RawTcb([3, 0, 9, 0, 0, 0, 8, 0x73]).decode(Product::Milan), Err((2, 9)));
    }
}
