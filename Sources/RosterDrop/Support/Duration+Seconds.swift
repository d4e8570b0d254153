extension Duration {
    /// The duration in seconds, to the nanosecond.
    var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds / 1_000_000_000) / 1e9
    }
}
