pub mod alloc;
pub mod timing;
