//! The limits a room's rules enforce, set from the configuration.

/// Limits the rules enforce; set from the configuration.
#[derive(Debug, Clone)]
pub struct RoomLimits {
    /// How many chat messages a snapshot carries.
    pub chat_history: usize,
    /// Longest chat message, in Unicode scalar values (`text::length`; not
    /// bytes: Vietnamese text is mostly multi-byte).
    pub max_chat_chars: usize,
    pub max_products: usize,
    pub max_banned_words: usize,
    pub max_mute_minutes: u32,
    pub max_slow_mode_seconds: u32,
}

impl Default for RoomLimits {
    fn default() -> Self {
        RoomLimits {
            chat_history: 50,
            max_chat_chars: 500,
            max_products: 200,
            max_banned_words: 500,
            max_mute_minutes: 24 * 60,
            max_slow_mode_seconds: 3600,
        }
    }
}
