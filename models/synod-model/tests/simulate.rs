//! `check::simulate`, the random walks behind `synod-model simulate`: every discovery is rebuilt
//! into a path that ends where the walk found it, and a seed always walks the same way.
//!
//! (stateright 0.31's simulation checker, used before, rebuilt discoveries from action indices
//! that no-op steps had shifted, and panicked on this configuration: issue 11.)

use stateright::{Expectation, Model};
use synod_model::check::{simulate, SimulateOptions, SimulateReport};
use synod_model::model::SynodModel;
use synod_model::script::parse_scripts;
use synod_model::{model, Correct, ModelConfig};

fn register_model() -> SynodModel<Correct> {
    let cfg = ModelConfig::register(3, parse_scripts("once:a,read;delete").unwrap(), 2);
    model::build(&cfg, Correct).unwrap()
}

const OPTIONS: SimulateOptions = SimulateOptions {
    seed: 2,
    runs: 500,
    depth: 60,
};

#[test]
fn every_discovery_is_rebuilt_and_ends_where_it_was_found() {
    let model = register_model();
    let report = simulate(&model, &OPTIONS);
    assert!(report.walks > 0 && report.states > report.walks);
    let mut discoveries = 0;
    for (property, result) in model.properties().iter().zip(&report.results) {
        assert_eq!(property.name, result.name);
        let Some(found) = &result.found else {
            continue;
        };
        discoveries += 1;
        let path = found
            .path
            .as_ref()
            .unwrap_or_else(|| panic!("'{}' was not rebuilt", result.name));
        assert_eq!(path.clone().into_actions().len(), found.actions.len());
        // The walk's steps, replayed in the checked model, end where the walk found it.
        let init = model.init_states().remove(0);
        let replayed = stateright::Path::from_actions(&model, init, &found.actions)
            .expect("the walk's steps replay in the model");
        let holds = (property.condition)(&model, replayed.last_state());
        assert_eq!(
            holds,
            property.expectation == Expectation::Sometimes,
            "'{}' at the end of its path",
            result.name
        );
    }
    assert!(discoveries > 0, "the walks found no example at all");
}

fn summary(report: &SimulateReport<Correct>) -> Vec<(&'static str, Option<(u64, String)>)> {
    report
        .results
        .iter()
        .map(|r| {
            let found = r
                .found
                .as_ref()
                .map(|f| (f.seed, format!("{:?}", f.actions)));
            (r.name, found)
        })
        .collect()
}

#[test]
fn a_seed_walks_the_same_way_every_time() {
    let model = register_model();
    let (a, b) = (
        simulate(&model, &OPTIONS),
        simulate(&model.clone(), &OPTIONS),
    );
    assert_eq!(
        (a.walks, a.states, a.max_depth),
        (b.walks, b.states, b.max_depth)
    );
    assert_eq!(summary(&a), summary(&b));
}
