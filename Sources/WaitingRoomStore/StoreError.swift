import RedisClient

/// Why a store operation failed.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// Redis could not be reached, timed out, or answered a retryable error (`LOADING`, `BUSY`, `READONLY`, …):
    /// the caller should answer 503 with `Retry-After`.
    case unavailable(RedisError)
    /// Redis answered something the store did not expect (a bug or a foreign key layout).
    case corrupt(String)

    public var description: String {
        switch self {
        case .unavailable(let error): return "redis unavailable: \(error)"
        case .corrupt(let why): return "unexpected room data: \(why)"
        }
    }

    static func wrap(_ error: RedisError) -> StoreError {
        error.isRetryable ? .unavailable(error) : .corrupt("\(error)")
    }
}
