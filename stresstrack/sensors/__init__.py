"""BLE sensors: device profiles (pure decoders), beat timing and the collector."""

from stresstrack.sensors.profiles import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    STRESSTRACK_EDA_V1,
    EdaPacket,
    EdaProfile,
    HeartRateMeasurement,
    decode_eda_packet,
    decode_heart_rate_measurement,
    encode_eda_packet,
    encode_heart_rate_measurement,
)

__all__ = [
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "STRESSTRACK_EDA_V1",
    "EdaPacket",
    "EdaProfile",
    "HeartRateMeasurement",
    "decode_eda_packet",
    "decode_heart_rate_measurement",
    "encode_eda_packet",
    "encode_heart_rate_measurement",
]
