//! The Synod production node (built in the server issue).
