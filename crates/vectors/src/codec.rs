//! The compact stored form of a vector: its components as little-endian `f32`, back to back
//! (4 bytes per dimension, no header), for a Postgres `bytea` column. The dimension count is
//! the byte length / 4; the column next to it (the embedding identity, `provider/model@dims`)
//! says which model produced it, so a decoder can also check the count it expects.

use crate::VectorError;

/// Encodes `vector` as little-endian `f32`s (`4 · len` bytes).
pub fn encode(vector: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(vector.len() * 4);
    for value in vector {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes
}

/// Decodes bytes written by [`encode`]. Fails when the length is not a multiple of 4 or a
/// component is not finite (NaN or infinity cannot come from [`encode`] of an embedding).
pub fn decode(bytes: &[u8]) -> Result<Vec<f32>, VectorError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(VectorError::Corrupt {
            detail: format!("{} bytes is not a whole number of f32s", bytes.len()),
        });
    }
    let vector: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    if let Some(position) = vector.iter().position(|v| !v.is_finite()) {
        return Err(VectorError::Corrupt {
            detail: format!("component {position} is not a finite number"),
        });
    }
    Ok(vector)
}

/// [`decode`], and the result must have `dims` components.
pub fn decode_dims(bytes: &[u8], dims: usize) -> Result<Vec<f32>, VectorError> {
    let vector = decode(bytes)?;
    if vector.len() != dims {
        return Err(VectorError::DimensionMismatch {
            expected: dims,
            actual: vector.len(),
        });
    }
    Ok(vector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_survives_encoding_bit_for_bit() {
        let vector = vec![
            0.0,
            -0.0,
            1.5,
            -2.25,
            f32::MIN_POSITIVE,
            f32::MAX,
            1e-40,
            0.1,
        ];
        let bytes = encode(&vector);
        assert_eq!(bytes.len(), 32);
        let back = decode(&bytes).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&vector));
        assert_eq!(decode(&[]).unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn the_layout_is_little_endian_f32() {
        assert_eq!(encode(&[1.0, -2.0]), [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
        assert_eq!(decode(&[0, 0, 0x80, 0x3f]).unwrap(), [1.0]);
    }

    #[test]
    fn truncated_or_non_finite_bytes_are_refused() {
        let bytes = encode(&[1.0, 2.0]);
        let error = decode(&bytes[..7]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "stored vector is corrupt: 7 bytes is not a whole number of f32s"
        );
        assert!(matches!(
            decode(&encode(&[1.0, f32::NAN])),
            Err(VectorError::Corrupt { .. })
        ));
        assert_eq!(
            decode_dims(&bytes, 3),
            Err(VectorError::DimensionMismatch {
                expected: 3,
                actual: 2
            })
        );
        assert_eq!(decode_dims(&bytes, 2).unwrap(), [1.0, 2.0]);
    }
}
