//! Evidence providers that need hardware, exercised here with recorded bytes and a
//! fake configfs-tsm: the provider code is the same, only the file operations are
//! simulated (configfs creates attributes on mkdir and bumps `generation` on writes).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use cvm_consoled::evidence::EvidenceProvider;
use cvm_consoled::evidence::sevguest::SevGuestProvider;
use cvm_consoled::evidence::tsm::{ConfigFs, TsmProvider};
use cvmc_protocol::evidence::{CertKind, Tee};
use cvmc_protocol::snp::certtable::{encode_cert_table, guid};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/data/snp/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A configfs-tsm in memory: a report directory gets inblob/outblob/auxblob/
/// provider/generation; outblob is produced from inblob by `sign`.
#[derive(Debug)]
struct FakeTsm {
    files: Mutex<HashMap<PathBuf, Vec<u8>>>,
    dirs: Mutex<Vec<PathBuf>>,
    generation: AtomicU32,
    /// Bump the generation this many extra times during reads (a concurrent writer).
    interfere: AtomicU32,
    aux: Vec<u8>,
    report: Vec<u8>,
    provider: &'static [u8],
}

impl FakeTsm {
    fn new(report: Vec<u8>, aux: Vec<u8>) -> Self {
        Self {
            files: Mutex::default(),
            dirs: Mutex::default(),
            generation: AtomicU32::new(0),
            interfere: AtomicU32::new(0),
            aux,
            report,
            provider: b"sev_guest\n",
        }
    }

    fn written(&self, name: &str) -> Vec<Vec<u8>> {
        let files = self.files.lock().unwrap();
        files.iter().filter(|(p, _)| p.file_name().unwrap() == name).map(|(_, v)| v.clone()).collect()
    }
}

impl ConfigFs for FakeTsm {
    fn mkdir(&self, path: &Path) -> std::io::Result<()> {
        let mut dirs = self.dirs.lock().unwrap();
        if dirs.contains(&path.to_path_buf()) {
            return Err(std::io::ErrorKind::AlreadyExists.into());
        }
        dirs.push(path.to_path_buf());
        Ok(())
    }

    fn write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        if path.file_name().unwrap() == "inblob" {
            assert!(data.len() <= 64);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        self.files.lock().unwrap().insert(path.to_path_buf(), data.to_vec());
        Ok(())
    }

    fn read(&self, path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
        let out = match path.file_name().unwrap().to_str().unwrap() {
            "generation" => self.generation.load(Ordering::SeqCst).to_string().into_bytes(),
            "outblob" => {
                if self.interfere.load(Ordering::SeqCst) > 0 {
                    self.interfere.fetch_sub(1, Ordering::SeqCst);
                    self.generation.fetch_add(1, Ordering::SeqCst);
                }
                self.report.clone()
            }
            "auxblob" => self.aux.clone(),
            "provider" => self.provider.to_vec(),
            other => return Err(std::io::Error::new(std::io::ErrorKind::NotFound, other.to_owned())),
        };
        if out.len() > limit {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "too long"));
        }
        Ok(out)
    }

    fn rmdir(&self, path: &Path) -> std::io::Result<()> {
        self.dirs.lock().unwrap().retain(|d| d != path);
        Ok(())
    }
}

#[test]
fn tsm_provider_reads_a_fresh_directory_and_parses_the_cert_table() {
    let report = data("milan_attestation_report.bin");
    let vcek = data("vcek_milan.der");
    let aux = encode_cert_table(&[(guid::VCEK, &vcek), (guid::ASK, b"ask-bytes")]);
    let fs = FakeTsm::new(report.clone(), aux);
    let provider = TsmProvider::with_fs(PathBuf::from("/fake/tsm/report"), fs, Some(0));
    let ev = provider.evidence(&[7; 64]).unwrap();
    assert_eq!(ev.tee, Tee::SEV_SNP);
    assert_eq!(ev.report, report);
    assert_eq!(ev.certs.len(), 2);
    assert_eq!((ev.certs[0].kind, ev.certs[0].der.as_slice()), (CertKind::VCEK, vcek.as_slice()));
    assert_eq!(ev.certs[1].kind, CertKind::ASK);
}

#[test]
fn tsm_provider_retries_when_the_generation_changes_and_gives_up_cleanly() {
    let fs = FakeTsm::new(data("milan_attestation_report.bin"), Vec::new());
    fs.interfere.store(1, Ordering::SeqCst);
    let provider = TsmProvider::with_fs(PathBuf::from("/fake"), fs, None);
    assert!(provider.evidence(&[1; 64]).is_ok(), "one interference: the retry succeeds");

    let fs = FakeTsm::new(data("milan_attestation_report.bin"), Vec::new());
    fs.interfere.store(100, Ordering::SeqCst);
    let provider = TsmProvider::with_fs(PathBuf::from("/fake"), fs, None);
    let err = provider.evidence(&[1; 64]).unwrap_err().to_string();
    assert!(err.contains("generation kept changing"), "{err}");
}

#[test]
fn tsm_provider_refuses_a_hostile_cert_table() {
    let mut aux = encode_cert_table(&[(guid::VCEK, b"x")]);
    aux[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let fs = FakeTsm::new(data("milan_attestation_report.bin"), aux);
    let provider = TsmProvider::with_fs(PathBuf::from("/fake"), fs, None);
    let err = provider.evidence(&[1; 64]).unwrap_err().to_string();
    assert!(err.contains("auxblob"), "{err}");
}

#[test]
fn sev_guest_provider_assembles_recorded_bytes_with_certificates_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{}/../tests/data/snp/milan_vcek.pem", env!("CARGO_MANIFEST_DIR")),
        dir.path().join("vcek.pem"),
    )
    .unwrap();
    std::fs::copy(
        format!("{}/../tests/data/snp/milan_ask.pem", env!("CARGO_MANIFEST_DIR")),
        dir.path().join("ask.pem"),
    )
    .unwrap();
    let report = data("milan_attestation_report.bin");
    let ev = SevGuestProvider::assemble(report.clone(), Vec::new(), Some(dir.path())).unwrap();
    assert_eq!(ev.tee, Tee::SEV_SNP);
    assert_eq!(ev.report, report);
    let kinds: Vec<CertKind> = ev.certs.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![CertKind::VCEK, CertKind::ASK]);
    assert!(SevGuestProvider::assemble(vec![0; 100], Vec::new(), None).is_err());
    // /dev/sev-guest does not exist on this machine: a clear error, not a panic.
    if !Path::new("/dev/sev-guest").exists() {
        let err = SevGuestProvider::new(0, None).unwrap_err().to_string();
        assert!(err.contains("/dev/sev-guest"), "{err}");
    }
}

/// configfs-tsm with the `tdx_guest` provider serving a real TDX quote: the provider
/// writes no privlevel (SNP's VMPL), reads no certificate table, labels the evidence
/// TDX and hands the quote over unchanged; a quote whose REPORTDATA is not what was
/// asked for, or that does not parse, is a clear error.
#[test]
fn tsm_provider_serves_a_real_tdx_quote() {
    let quote = std::fs::read(format!("{}/../tests/data/tdx/dcapqvl_tdx_quote", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let report_data = cvmc_protocol::tdx::Quote::parse(&quote).unwrap().td.report_data;
    let mut fs = FakeTsm::new(quote.clone(), b"not an SNP certificate table".to_vec());
    fs.provider = b"tdx_guest\n";
    let fs = std::sync::Arc::new(fs);
    let provider = TsmProvider::with_fs(PathBuf::from("/fake"), SharedFs(std::sync::Arc::clone(&fs)), Some(0));
    let ev = provider.evidence(&report_data).unwrap();
    assert_eq!((ev.tee, ev.report.as_slice(), ev.certs.len()), (Tee::TDX, quote.as_slice(), 0));
    assert!(fs.written("privlevel").is_empty(), "no VMPL written for TDX");
    assert_eq!(fs.written("inblob"), vec![report_data.to_vec()]);

    let err = provider.evidence(&[0; 64]).unwrap_err().to_string();
    assert!(err.contains("REPORTDATA"), "{err}");
    let mut fs = FakeTsm::new(quote[..100].to_vec(), Vec::new());
    fs.provider = b"tdx_guest\n";
    let err = TsmProvider::with_fs(PathBuf::from("/fake"), fs, None).evidence(&report_data).unwrap_err().to_string();
    assert!(err.contains("outblob") && err.contains("quote"), "{err}");
    let mut fs = FakeTsm::new(quote, Vec::new());
    fs.provider = b"\x1b[2Jevil\n";
    let err = TsmProvider::with_fs(PathBuf::from("/fake"), fs, None).evidence(&report_data).unwrap_err().to_string();
    assert!(err.contains("unknown provider") && !err.contains('\x1b'), "{err}");
}

/// A FakeTsm shared with the test, to look at what the provider wrote.
#[derive(Debug)]
struct SharedFs(std::sync::Arc<FakeTsm>);

impl ConfigFs for SharedFs {
    fn mkdir(&self, path: &Path) -> std::io::Result<()> {
        self.0.mkdir(path)
    }
    fn write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.0.write(path, data)
    }
    fn read(&self, path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
        self.0.read(path, limit)
    }
    fn rmdir(&self, path: &Path) -> std::io::Result<()> {
        self.0.rmdir(path)
    }
}
