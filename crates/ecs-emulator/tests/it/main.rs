//! Integration tests of the ECS emulator: the official SDK against the server (`rollouts`, `operations`, set up by `sdk`), the
//! control API over plain HTTP (`control`), and the binary's flags, exit codes and signals
//! (`binary`), and the behaviours of real ECS that tools must survive (`hostile`).

mod binary;
mod control;
mod hostile;
mod http;
mod operations;
mod rollouts;
mod sdk;
