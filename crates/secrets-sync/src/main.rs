fn main() -> std::process::ExitCode {
    dk_core::tool::main::<secrets_sync::SecretsSync>()
}
