//! The `synod` binary.
fn main() {}
