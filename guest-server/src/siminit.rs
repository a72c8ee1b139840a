//! `cvm-consoled sim-init DIR`: make a simulated test chain and the two files that
//! use it — `server.toml` for the guest side and `policy.toml` for the client,
//! trusting exactly that chain's root and the simulated measurement.
//!
//! Files written (certificates PEM; `*-TEST-KEY.pem` are private test keys, 0600):
//!
//! ```text
//! SEV-SNP: DIR/ark.pem  DIR/ask.pem  DIR/asvk.pem  DIR/vcek.pem  DIR/vcek-TEST-KEY.pem
//! TDX:     DIR/tdx-root.pem  DIR/tdx-pck-ca.pem  DIR/tdx-tcb-signing.pem  (+ their -TEST-KEY.pem)
//! both:    DIR/server.toml  DIR/policy.toml  DIR/authorized_clients  DIR/SIMULATED-NOT-CONFIDENTIAL.txt
//! ```

use std::fs;
use std::io::Write;
use std::path::Path;

use der::{DecodePem, EncodePem};
use x509_cert::Certificate;

use cvmc_protocol::policy::{Hex, Policy};
use cvmc_protocol::snp::certs::{AmdCert, ext};
use cvmc_protocol::snp::product::Product;
use cvmc_protocol::snp::report::SigningKey;
use cvmc_protocol::snp::tcb::Tcb;

use crate::config::{DEFAULT_PORT, EvidenceKind, ServerConfig};
use crate::sim::{LeafSpec, SimCa, SimError, SimLeaf, simulated_measurement};
use crate::sim_tdx::{PlatformSpec, SimTdxCa, SimTdxPlatform, simulated_mrtd};

/// File names inside a sim-init directory.
pub mod files {
    pub const ARK: &str = "ark.pem";
    pub const ASK: &str = "ask.pem";
    pub const ASVK: &str = "asvk.pem";
    pub const VCEK: &str = "vcek.pem";
    pub const VCEK_KEY: &str = "vcek-TEST-KEY.pem";
    pub const SERVER: &str = "server.toml";
    pub const POLICY: &str = "policy.toml";
    pub const NOTICE: &str = "SIMULATED-NOT-CONFIDENTIAL.txt";
    pub const AUTHORIZED: &str = "authorized_clients";
    pub const IDENTITY: &str = "identity.pem";
    pub const TDX_ROOT: &str = "tdx-root.pem";
}

const NOTICE: &str = "This directory holds a SIMULATED attestation chain made by `cvm-consoled sim-init`.\n\
Its keys are TEST KEYS on an ordinary disk. Evidence signed with them proves nothing\n\
about confidentiality: use it for development and tests only. A cvm-console client\n\
accepts it only with policy.toml (which names the test root, ark.pem or tdx-root.pem,\n\
in trusted_roots) and then shows \"SIMULATED - NOT CONFIDENTIAL\".\n";

/// Which TEE a simulated chain imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimTee {
    /// AMD SEV-SNP, with this product's names and TCB layout.
    Snp(Product),
    /// Intel TDX.
    Tdx,
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::File { path: path.display().to_string(), reason: e.to_string() }
}

fn write(path: &Path, contents: &[u8], private: bool) -> Result<(), SimError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let mut f = opts.open(path).map_err(|e| file_err(path, e))?;
    f.write_all(contents).map_err(|e| file_err(path, e))
}

fn pem(cert: &Certificate) -> Result<String, SimError> {
    cert.to_pem(der::pem::LineEnding::LF).map_err(|e| SimError::Encode(e.to_string()))
}

/// Make the chain and write every file. Refuses to overwrite an existing chain.
/// `authorize` lists client key fingerprints (`SHA256:…`) to put in
/// `authorized_clients`.
pub fn sim_init(dir: &Path, tee: SimTee, authorize: &[String]) -> Result<(), SimError> {
    fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    for existing in [files::ARK, files::TDX_ROOT] {
        let path = dir.join(existing);
        if path.exists() {
            return Err(file_err(&path, "already exists; remove the directory to make a new chain"));
        }
    }
    let policy = match tee {
        SimTee::Snp(product) => {
            let ca = SimCa::generate(product)?;
            let leaf = ca.issue_leaf(&ca.default_leaf(SigningKey::Vcek))?;
            write(&dir.join(files::ARK), pem(&ca.ark)?.as_bytes(), false)?;
            write(&dir.join(files::ASK), pem(&ca.ask)?.as_bytes(), false)?;
            write(&dir.join(files::ASVK), pem(&ca.asvk)?.as_bytes(), false)?;
            write(&dir.join(files::VCEK), pem(&leaf.cert)?.as_bytes(), false)?;
            write(&dir.join(files::VCEK_KEY), leaf.key_pem()?.as_bytes(), true)?;
            Policy {
                measurements: vec![Hex(simulated_measurement())],
                trusted_roots: vec![files::ARK.into()],
                ..Policy::default()
            }
        }
        SimTee::Tdx => {
            SimTdxCa::generate()?.save(dir)?;
            Policy {
                tdx: Some(cvmc_protocol::policy::TdxPolicy { mrtd: vec![Hex(simulated_mrtd())], ..Default::default() }),
                trusted_roots: vec![files::TDX_ROOT.into()],
                ..Policy::default()
            }
        }
    };
    write(&dir.join(files::NOTICE), NOTICE.as_bytes(), false)?;

    let mut server = ServerConfig::new(format!("127.0.0.1:{DEFAULT_PORT}"), EvidenceKind::Simulated);
    server.simulated_dir = Some(".".into());
    server.display = "pattern".into();
    server.authorized_clients = Some(files::AUTHORIZED.into());
    // A persistent identity, so clients that pin it keep recognising this guest.
    server.identity_key = Some(files::IDENTITY.into());
    let authorized = authorize.iter().map(|fp| format!("{fp} (sim-init)\n")).collect::<String>();
    write(
        &dir.join(files::AUTHORIZED),
        format!("# Client keys allowed to open this simulated guest's console and screen.\n{authorized}").as_bytes(),
        false,
    )?;
    let server_toml = toml::to_string_pretty(&server).map_err(|e| SimError::Encode(e.to_string()))?;
    write(
        &dir.join(files::SERVER),
        format!("# SIMULATED evidence: NOT CONFIDENTIAL.\n{server_toml}").as_bytes(),
        false,
    )?;
    let policy_toml = policy.to_toml().map_err(|e| SimError::Encode(e.to_string()))?;
    write(
        &dir.join(files::POLICY),
        format!("# Trusts ONLY the simulated test root in this directory: NOT CONFIDENTIAL.\n{policy_toml}").as_bytes(),
        false,
    )?;
    Ok(())
}

/// A loaded simulated SEV-SNP chain: the leaf that signs reports and the ASK it sends.
#[derive(Debug, Clone)]
pub struct SimProviderFiles {
    /// The VCEK and its key.
    pub leaf: SimLeaf,
    /// ASK DER, sent with the evidence.
    pub ask_der: Vec<u8>,
}

/// A loaded simulated TDX chain: the CA (which signs fresh collateral) and one
/// platform (PCK certificate and quoting enclave) made at load.
#[derive(Debug)]
pub struct SimTdxFiles {
    /// The test CA.
    pub ca: SimTdxCa,
    /// The simulated platform.
    pub platform: SimTdxPlatform,
}

/// Load a TDX sim-init directory.
pub fn load_tdx(dir: &Path) -> Result<SimTdxFiles, SimError> {
    let ca = SimTdxCa::load(dir)?;
    let platform = ca.platform(&PlatformSpec::default())?;
    Ok(SimTdxFiles { ca, platform })
}

/// Whether a sim-init directory holds a TDX chain.
pub fn is_tdx(dir: &Path) -> bool {
    SimTdxCa::exists(dir) && !dir.join(files::ARK).exists()
}

/// Load a SEV-SNP sim-init directory for the simulated evidence provider.
pub fn load(dir: &Path) -> Result<SimProviderFiles, SimError> {
    let read = |name: &str| {
        let p = dir.join(name);
        fs::read_to_string(&p).map_err(|e| file_err(&p, e))
    };
    let vcek_pem = read(files::VCEK)?;
    let cert = Certificate::from_pem(vcek_pem.as_bytes()).map_err(|e| file_err(&dir.join(files::VCEK), e))?;
    let ask = Certificate::from_pem(read(files::ASK)?.as_bytes()).map_err(|e| file_err(&dir.join(files::ASK), e))?;
    let info = AmdCert::from_pem("VCEK", vcek_pem.as_bytes()).map_err(|e| file_err(&dir.join(files::VCEK), e))?;
    let bad = |e: cvmc_protocol::VerifyError| file_err(&dir.join(files::VCEK), e);
    let product = info
        .product_name()
        .map_err(bad)?
        .as_deref()
        .and_then(Product::from_product_name)
        .ok_or_else(|| file_err(&dir.join(files::VCEK), "no productName extension"))?;
    let fmc = if product.short_hwid() { Some(info.spl(&ext::FMC_SPL, "fmcSPL").map_err(bad)?) } else { None };
    let tcb = Tcb {
        bootloader: info.spl(&ext::BL_SPL, "blSPL").map_err(bad)?,
        tee: info.spl(&ext::TEE_SPL, "teeSPL").map_err(bad)?,
        snp: info.spl(&ext::SNP_SPL, "snpSPL").map_err(bad)?,
        microcode: info.spl(&ext::UCODE_SPL, "ucodeSPL").map_err(bad)?,
        fmc,
    };
    let hwid = info.require_extension(&ext::HWID, "hwID").map_err(bad)?;
    let mut chip_id = [0u8; 64];
    chip_id[..hwid.len().min(64)].copy_from_slice(&hwid[..hwid.len().min(64)]);
    let (nb, na) = info.validity();
    let spec = LeafSpec { kind: SigningKey::Vcek, tcb, chip_id, omit: Vec::new(), validity: (nb, na) };
    let leaf = SimLeaf::from_parts(product, spec, cert, &read(files::VCEK_KEY)?)?;
    let ask_der = der::Encode::to_der(&ask).map_err(|e| SimError::Encode(e.to_string()))?;
    Ok(SimProviderFiles { leaf, ask_der })
}
