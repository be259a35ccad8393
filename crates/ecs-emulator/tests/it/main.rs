//! Integration tests of the ECS emulator: the official SDK against the server (`rollouts`, `operations`, set up by `sdk`), the
//! control API over plain HTTP (`control`), and the binary's flags, exit codes and signals
//! (`binary`), the behaviours of real ECS that tools must survive (`hostile`), and process mode's real
//! processes behind a loopback load balancer (`processes`), whose production and test listeners follow
//! an ECS-native deployment's traffic weights (`traffic`).

mod binary;
mod control;
mod hostile;
mod http;
mod one_off;
mod operations;
mod processes;
mod rollouts;
mod sdk;
mod traffic;
