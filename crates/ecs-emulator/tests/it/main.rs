//! Integration tests of the ECS emulator: the official SDK against the server (`sdk`), the
//! control API over plain HTTP (`control`), and the binary's flags, exit codes and signals
//! (`binary`).

mod binary;
mod control;
mod http;
mod sdk;
