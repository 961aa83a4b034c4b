//! Ablation stage 3 of heapster's counting path (see `heapster_bench::ablation`).

use heapster_bench::ablation::Stage;

heapster_bench::configuration!("stage 3", Stage<3> = Stage::new(), |g| g.counted());
