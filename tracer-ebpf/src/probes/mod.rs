pub mod alloc;
