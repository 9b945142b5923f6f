import RedisClient

/// A script's reply in the shape every room script answers with: `{outcome, value…}`. Call sites match
/// on the outcome and the number of values; anything else is an unexpected reply (an error, never a guess).
struct ScriptReply {
    let outcome: String
    let values: [RedisReply]

    init(_ reply: RedisReply, from script: String) throws(StoreError) {
        if case .error(let message) = reply { throw .wrap(.server(message)) }  // LOADING, BUSY…: unavailable
        guard let parts = reply.array, let outcome = parts.first?.string else { throw .corrupt("\(script) returned \(reply)") }
        self.outcome = outcome
        values = Array(parts.dropFirst())
    }

    /// The values as text (integers in decimal).
    var texts: [String] {
        values.map { $0.string ?? $0.int.map(String.init) ?? "" }
    }
}
