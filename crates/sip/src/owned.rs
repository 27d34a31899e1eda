//! Owned copies of parsed messages.
