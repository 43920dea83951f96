//! flowgate gateway library.
