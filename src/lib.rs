//! The stapc driver: the pipeline from script text to object, simulation or kernel run.
#![forbid(unsafe_code)]
