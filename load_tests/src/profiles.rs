//! Load profiles (how many users, SPEC §9: light 10, medium 50, heavy 200) and shapes (ramp,
//! sustain, spike), turned into a goose test plan: a list of `users,time-to-reach` steps.

/// How many concurrent users, and how fast they arrive when ramping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// 10 users, hatched at 1 user/s (the seeds' "development" profile).
    Light,
    /// 50 users, hatched at 5 users/s (the seeds' "staging" profile).
    Medium,
    /// 200 users, hatched at 10 users/s (the seeds' "production" profile).
    Heavy,
}

impl Profile {
    pub fn users(self) -> usize {
        match self {
            Profile::Light => 10,
            Profile::Medium => 50,
            Profile::Heavy => 200,
        }
    }

    /// Users started per second by the `ramp` shape.
    pub fn hatch_rate(self) -> usize {
        match self {
            Profile::Light => 1,
            Profile::Medium => 5,
            Profile::Heavy => 10,
        }
    }
}

/// How the user count moves over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Start users at the profile's hatch rate, hold for the sustain time, stop.
    Ramp,
    /// Start every user within a second, hold for the sustain time, stop.
    Sustain,
    /// A fifth of the users for a third of the sustain time, all of them (started within
    /// a second) for a third, a fifth again for the last third.
    Spike,
}

/// A goose test plan (`--test-plan` syntax) for `profile` and `shape`, holding the peak for
/// `sustain_secs`.
pub fn test_plan(profile: Profile, shape: Shape, sustain_secs: u64) -> String {
    let users = profile.users();
    match shape {
        Shape::Ramp => {
            let ramp = users.div_ceil(profile.hatch_rate()).max(1);
            format!("{users},{ramp}s;{users},{sustain_secs}s;0,0s")
        }
        Shape::Sustain => format!("{users},1s;{users},{sustain_secs}s;0,0s"),
        Shape::Spike => {
            let base = (users / 5).max(1);
            let third = (sustain_secs / 3).max(1);
            format!(
                "{base},1s;{base},{third}s;{users},1s;{users},{third}s;{base},1s;{base},{third}s;0,0s"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_ramp_hatches_ten_users_a_second() {
        assert_eq!(
            test_plan(Profile::Heavy, Shape::Ramp, 60),
            "200,20s;200,60s;0,0s"
        );
    }

    #[test]
    fn spike_goes_from_a_fifth_to_all_users_and_back() {
        assert_eq!(
            test_plan(Profile::Medium, Shape::Spike, 30),
            "10,1s;10,10s;50,1s;50,10s;10,1s;10,10s;0,0s"
        );
    }

    #[test]
    fn every_plan_parses_as_a_goose_test_plan() {
        for profile in [Profile::Light, Profile::Medium, Profile::Heavy] {
            for shape in [Shape::Ramp, Shape::Sustain, Shape::Spike] {
                let plan = test_plan(profile, shape, 30);
                plan.parse::<goose::test_plan::TestPlan>().expect(&plan);
            }
        }
    }
}
