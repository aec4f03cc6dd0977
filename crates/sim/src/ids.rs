//! Kombo-style ids: 24 base58 characters, deterministic from the company's seed.

use rand::Rng;

const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

pub fn kombo_id(rng: &mut impl Rng) -> String {
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
