//! Scenario tests of the rules.
