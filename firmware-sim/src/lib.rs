//! charlstm-sim (filled by the simulator issue).
