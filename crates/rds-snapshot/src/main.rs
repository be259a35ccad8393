fn main() -> std::process::ExitCode {
    dk_core::tool::main::<rds_snapshot::RdsSnapshot>()
}
