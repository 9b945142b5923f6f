// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "WaitingRoom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "waitroom", targets: ["WaitingRoomCLI"]),
        .executable(name: "example-order-service", targets: ["ExampleOrderService"]),
        .library(name: "WaitingRoomVerifier", targets: ["WaitingRoomVerifier"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // C libraries fixed by the design card; each is used through one thin Swift layer.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),

        // Pipelining Redis client: a SwiftNIO channel per connection (TLS by swift-nio-ssl), hiredis parses RESP.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        // Ed25519 JWTs, HMAC tickets, key sets and JWKS on OpenSSL.
        .target(
            name: "WaitingRoomTokens",
            dependencies: ["COpenSSL"]
        ),
        // The queue rules as plain values and functions: no I/O.
        .target(name: "WaitingRoomCore"),
        // Room state in Redis: keys, Lua scripts, the per-instance cache, group-committed joins.
        .target(
            name: "WaitingRoomStore",
            dependencies: [
                "RedisClient", "WaitingRoomCore", "WaitingRoomTokens",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Scripts")]
        ),
        // The HTTP gate on Hummingbird 2.
        .target(
            name: "WaitingRoomServer",
            dependencies: [
                "WaitingRoomStore", "WaitingRoomTokens", "WaitingRoomCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.copy("Resources")]
        ),
        // What an order service imports to check admission tokens offline.
        .target(
            name: "WaitingRoomVerifier",
            dependencies: [
                "WaitingRoomTokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The drop simulator: simulated shoppers, arrival curves, FIFO and entry-rate analysis, reports.
        .target(
            name: "DropSimulator",
            dependencies: [
                "RedisClient", "WaitingRoomCore", "WaitingRoomTokens",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "WaitingRoomCLI",
            dependencies: [
                "WaitingRoomServer", "WaitingRoomTokens", "RedisClient", "WaitingRoomCore", "DropSimulator", "WaitingRoomVerifier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ExampleOrderService",
            dependencies: [
                "WaitingRoomVerifier", "WaitingRoomTokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),

        // Starts a private redis-server for integration tests.
        .target(
            name: "TestSupport",
            dependencies: ["RedisClient"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "TestSupport"]),
        .testTarget(name: "WaitingRoomTokensTests", dependencies: ["WaitingRoomTokens", "TestSupport"]),
        .testTarget(name: "WaitingRoomCoreTests", dependencies: ["WaitingRoomCore", "TestSupport"]),
        .testTarget(name: "WaitingRoomStoreTests", dependencies: ["WaitingRoomStore", "WaitingRoomCore", "RedisClient", "TestSupport"]),
        .testTarget(
            name: "DeploymentTests",
            dependencies: ["WaitingRoomServer", "WaitingRoomCore", .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(name: "DropSimulatorTests", dependencies: ["DropSimulator", "WaitingRoomCore"]),
        .testTarget(
            name: "WaitingRoomVerifierTests",
            dependencies: ["WaitingRoomVerifier", "WaitingRoomTokens", .product(name: "HummingbirdTesting", package: "hummingbird")]
        ),
        .testTarget(
            name: "WaitingRoomServerTests",
            dependencies: [
                "WaitingRoomServer", "WaitingRoomStore", "WaitingRoomTokens", "WaitingRoomCore", "RedisClient", "TestSupport",
                "WaitingRoomVerifier", "DropSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
