//! One conformance suite for every backend. TODO: implemented by the backends work.
