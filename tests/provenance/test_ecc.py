"""CRC-16 and the K=7 rate-1/2 convolutional code with soft Viterbi decoding."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.provenance import ecc


def test_crc16_matches_the_ccitt_false_check_value() -> None:
    # CRC-16/CCITT-FALSE of ASCII "123456789" is 0x29B1 (the catalogue's check value)
    bits = np.unpackbits(np.frombuffer(b"123456789", dtype=np.uint8))
    value = int("".join(map(str, ecc.crc16(bits))), 2)
    assert value == 0x29B1


def test_crc_detects_every_single_and_double_bit_error() -> None:
    rng = np.random.default_rng(0)
    word = ecc.append_crc(rng.integers(0, 2, 48))
    assert ecc.check_crc(word)
    for i in range(word.size):
        flipped = word.copy()
        flipped[i] ^= 1
        assert not ecc.check_crc(flipped)
        for j in range(i + 1, word.size, 7):
            twice = flipped.copy()
            twice[j] ^= 1
            assert not ecc.check_crc(twice)


def test_encoder_length_and_known_impulse_response() -> None:
    assert ecc.coded_length(64) == 140
    coded = ecc.conv_encode([1])
    # a single 1 walks through the register: the outputs are the generator taps, MSB first
    g0 = [(ecc.GENERATORS[0] >> (6 - k)) & 1 for k in range(7)]
    g1 = [(ecc.GENERATORS[1] >> (6 - k)) & 1 for k in range(7)]
    assert coded.reshape(-1, 2)[:, 0].tolist() == g0
    assert coded.reshape(-1, 2)[:, 1].tolist() == g1


def test_viterbi_corrects_scattered_hard_errors() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        bits = rng.integers(0, 2, 64).astype(np.uint8)
        coded = ecc.conv_encode(bits)
        received = 1.0 - 2.0 * coded
        # free distance 10: any 4 errors at least 20 coded bits apart are corrected
        for position in rng.choice(np.arange(0, coded.size, 20), size=4, replace=False):
            received[position] *= -1
        assert np.array_equal(ecc.viterbi_decode(received), bits)


def test_soft_decoding_works_at_ten_percent_raw_errors() -> None:
    rng = np.random.default_rng(2)
    decoded_ok, raw_errors, total = 0, 0, 0
    for _ in range(100):
        bits = rng.integers(0, 2, 48).astype(np.uint8)
        symbols = 1.0 - 2.0 * ecc.encode_payload(bits)
        soft = symbols + rng.normal(0.0, 0.78, symbols.size)
        raw_errors += int(np.sum(np.sign(soft) != symbols))
        total += symbols.size
        payload, crc_ok = ecc.decode_payload(soft)
        decoded_ok += int(crc_ok and np.array_equal(payload, bits))
    assert 0.07 < raw_errors / total < 0.13
    assert decoded_ok >= 95


def test_decoding_is_equivariant_under_codewords() -> None:
    """Flipping the soft values by a codeword XORs its message into the output: with keyed
    random spreading signs this makes the decoded message of unmarked footage uniform, which
    bounds the payload check's false-positive rate at 2**-32 (docs/provenance.md)."""
    rng = np.random.default_rng(3)
    soft = rng.normal(size=ecc.coded_length(64))
    base = ecc.viterbi_decode(soft)
    for _ in range(5):
        message = rng.integers(0, 2, 64).astype(np.uint8)
        flipped = soft * (1.0 - 2.0 * ecc.conv_encode(message))
        assert np.array_equal(ecc.viterbi_decode(flipped), base ^ message)


def test_random_soft_values_do_not_pass_the_crc() -> None:
    rng = np.random.default_rng(4)
    passes = sum(ecc.decode_payload(rng.normal(size=140))[1] for _ in range(300))
    assert passes == 0  # expected 300 / 65536


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        ecc.viterbi_decode(np.zeros(7))
    with pytest.raises(ValueError):
        ecc.crc16([0, 2])
