//! Ablation stage 4 of heapster's counting path (see `heapster_bench::ablation`).

use heapster_bench::ablation::Stage;

heapster_bench::configuration!("stage 4", Stage<4> = Stage::new(), |g| g.counted());
