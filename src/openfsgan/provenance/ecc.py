"""Error-correcting code of the watermark payload: CRC-16 + rate-1/2 convolutional code.

The payload bits get a CRC-16/CCITT (so a decoded payload can be checked), then the
industry-standard K=7 convolutional code (generators 133, 171 octal, as in 802.11 and DVB)
with 6 zero tail bits, decoded by a soft-decision Viterbi decoder. Soft decisions matter here:
the watermark detector produces a correlation per coded bit whose magnitude is its reliability,
and soft Viterbi gains ~2 dB over hard decisions.

Bit conventions: bits are ``uint8`` arrays of 0/1; soft values are floats where a positive value
means bit 0 and a negative value bit 1 (BPSK: bit b is sent as ``1 - 2b``).
"""

from __future__ import annotations

import numpy as np

CONSTRAINT_LENGTH = 7
MEMORY = CONSTRAINT_LENGTH - 1
NUM_STATES = 1 << MEMORY
GENERATORS = (0o133, 0o171)
CRC_BITS = 16
_CRC_POLY = 0x1021
_CRC_INIT = 0xFFFF


def _parity(value: int) -> int:
    return bin(value).count("1") & 1


def _trellis() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Encoder tables and, per next state, its two predecessors and their output symbols.

    The encoder register is ``(u << MEMORY) | state`` (newest bit on the left); the next state
    is ``register >> 1``.
    """
    next_state = np.zeros((NUM_STATES, 2), dtype=np.int64)
    outputs = np.zeros((NUM_STATES, 2, 2), dtype=np.uint8)
    for state in range(NUM_STATES):
        for bit in (0, 1):
            register = (bit << MEMORY) | state
            next_state[state, bit] = register >> 1
            outputs[state, bit] = [_parity(register & g) for g in GENERATORS]
    predecessors = np.zeros((NUM_STATES, 2), dtype=np.int64)
    branch_symbols = np.zeros((NUM_STATES, 2, 2), dtype=np.float64)
    for nxt in range(NUM_STATES):
        bit = nxt >> (MEMORY - 1)  # the input bit is the newest bit of the next state
        for oldest in (0, 1):
            register = ((nxt << 1) | oldest) & ((1 << CONSTRAINT_LENGTH) - 1)
            prev = register & (NUM_STATES - 1)
            predecessors[nxt, oldest] = prev
            branch_symbols[nxt, oldest] = 1.0 - 2.0 * outputs[prev, bit]
    return next_state, outputs, predecessors, branch_symbols


_NEXT_STATE, _OUTPUTS, _PREDECESSORS, _BRANCH_SYMBOLS = _trellis()


def _as_bits(bits: np.ndarray | list[int]) -> np.ndarray:
    array = np.asarray(bits, dtype=np.uint8).ravel()
    if array.size and array.max() > 1:
        raise ValueError("bits must be 0 or 1")
    return array


def crc16(bits: np.ndarray | list[int]) -> np.ndarray:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of a bit string, as 16 bits MSB first."""
    register = _CRC_INIT
    for bit in _as_bits(bits):
        feedback = ((register >> 15) & 1) ^ int(bit)
        register = (register << 1) & 0xFFFF
        if feedback:
            register ^= _CRC_POLY
    return np.array([(register >> (15 - i)) & 1 for i in range(CRC_BITS)], dtype=np.uint8)


def append_crc(bits: np.ndarray | list[int]) -> np.ndarray:
    """``bits`` followed by their CRC-16."""
    data = _as_bits(bits)
    return np.concatenate([data, crc16(data)])


def check_crc(bits_with_crc: np.ndarray | list[int]) -> bool:
    """True when the last 16 bits are the CRC-16 of the ones before."""
    data = _as_bits(bits_with_crc)
    if data.size < CRC_BITS:
        return False
    return bool(np.array_equal(crc16(data[:-CRC_BITS]), data[-CRC_BITS:]))


def coded_length(num_bits: int) -> int:
    """Number of coded bits for ``num_bits`` input bits (rate 1/2, with the tail)."""
    return 2 * (num_bits + MEMORY)


def conv_encode(bits: np.ndarray | list[int]) -> np.ndarray:
    """Rate-1/2 K=7 convolutional encoding with a zero tail: n bits -> 2(n+6) coded bits."""
    data = np.concatenate([_as_bits(bits), np.zeros(MEMORY, dtype=np.uint8)])
    coded = np.empty((data.size, 2), dtype=np.uint8)
    state = 0
    for i, bit in enumerate(data):
        coded[i] = _OUTPUTS[state, bit]
        state = int(_NEXT_STATE[state, bit])
    return coded.ravel()


def viterbi_decode(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi decoding of :func:`conv_encode` output.

    Args:
        soft: ``[2(n+6)]`` soft values, positive meaning bit 0 (any scale; only the ratios
            between values matter).

    Returns:
        ``[n]`` decoded bits (the tail removed).
    """
    values = np.asarray(soft, dtype=np.float64).ravel()
    if values.size % 2 or values.size < 2 * (MEMORY + 1):
        raise ValueError(f"soft input of length {values.size} is not a terminated rate-1/2 code")
    steps = values.size // 2
    pairs = values.reshape(steps, 2)
    metric = np.full(NUM_STATES, -np.inf)
    metric[0] = 0.0  # the encoder starts in state 0
    choices = np.empty((steps, NUM_STATES), dtype=np.uint8)
    for t in range(steps):
        # correlation of the received pair with each branch's BPSK symbols (maximised)
        branch = _BRANCH_SYMBOLS @ pairs[t]
        candidates = metric[_PREDECESSORS] + branch
        choice = np.argmax(candidates, axis=1)
        choices[t] = choice
        metric = candidates[np.arange(NUM_STATES), choice]
    state = 0  # the zero tail brings the encoder back to state 0
    decoded = np.empty(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        decoded[t] = state >> (MEMORY - 1)
        state = int(_PREDECESSORS[state, choices[t, state]])
    return decoded[: steps - MEMORY]


def encode_payload(bits: np.ndarray | list[int]) -> np.ndarray:
    """Payload bits -> CRC appended -> convolutionally encoded bits."""
    return conv_encode(append_crc(bits))


def decode_payload(soft: np.ndarray) -> tuple[np.ndarray, bool]:
    """Inverse of :func:`encode_payload`: ``(payload bits, crc_ok)``."""
    decoded = viterbi_decode(soft)
    return decoded[:-CRC_BITS], check_crc(decoded)
