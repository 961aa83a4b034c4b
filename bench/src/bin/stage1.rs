//! Ablation stage 1 of heapster's counting path (see `heapster_bench::ablation`).

use heapster_bench::ablation::Stage;

heapster_bench::configuration!("stage 1", Stage<1> = Stage::new(), |g| g.counted());
