fn main() -> std::process::ExitCode {
    dk_core::tool::main::<ecs_roll::EcsRoll>()
}
