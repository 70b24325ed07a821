//! charlstm-trainer: learn a char-LSTM with ndarray, quantize it, write a charlstm blob.

pub mod export;
