"""Pure detection logic: no Kafka, no Faust, no I/O. State is passed in and returned."""
