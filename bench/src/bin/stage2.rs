//! Ablation stage 2 of heapster's counting path (see `heapster_bench::ablation`).

use heapster_bench::ablation::Stage;

heapster_bench::configuration!("stage 2", Stage<2> = Stage::new(), |g| g.counted());
