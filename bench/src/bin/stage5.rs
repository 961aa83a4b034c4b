//! Ablation stage 5 of heapster's counting path (see `heapster_bench::ablation`).

use heapster_bench::ablation::Stage;

heapster_bench::configuration!("stage 5", Stage<5> = Stage::new(), |g| g.counted());
