//! ECS rollout emulator (see issue 4).
