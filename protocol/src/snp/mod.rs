//! AMD SEV-SNP: report layout, TCB, products, certificates, roots and the verifier.

pub mod certs;
pub mod certtable;
mod checks;
pub mod crl;
pub mod ovmf;
pub mod product;
pub mod report;
pub mod roots;
pub mod tcb;
pub mod verify;
