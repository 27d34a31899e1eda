//! Response and request builders.
