//! The stateright model of `synod-core` (built in the model issue).
