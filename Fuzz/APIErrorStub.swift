// Stands in for the server's APIError (which needs Hummingbird) when the settings decoder is compiled
// alone for fuzzing: the decoder only constructs 400s.
struct APIError: Error {
    let message: String
    let code: String
    static func badRequest(_ message: String, code: String = "bad_request") -> APIError { APIError(message: message, code: code) }
}
