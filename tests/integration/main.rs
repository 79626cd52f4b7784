//! Every integration test in one binary, so that polars is linked once.
//! Most run the real `suivi` binary on committed or generated inputs and
//! compare what it writes with figures computed independently.

mod bilan;
mod check;
mod common;
mod confidentiality;
mod csv_inputs;
mod deliveries;
mod explain;
mod goldens;
mod hostile;
mod indicators_recompute;
mod indicators_traps;
mod ingest;
mod offices;
mod run;
mod targets;
mod workbooks;
