fn main() -> std::process::ExitCode {
    dk_core::tool::main::<ecr_push::EcrPush>()
}
