//! charlstm-trainer: learn a char-LSTM with ndarray, quantize it, write a charlstm blob.
//!
//! The pipeline: [`corpus`] (text → ids, train/validation split) → [`model`] (parameters)
//! and [`layers`] (forward/backward pairs) → [`optim`] → [`train`] (the loop, checkpoints
//! in [`checkpoint`], curves in [`plot`]) → [`export`] (int8 blob through charlstm-core's
//! quantizer and wire format); [`eval`] measures validation loss with the float forward or
//! with charlstm-core itself.

pub mod checkpoint;
pub mod config;
pub mod corpus;
pub mod eval;
pub mod export;
pub mod files;
pub mod golden;
pub mod layers;
pub mod model;
pub mod optim;
pub mod plot;
pub mod train;
