// Baseline peer for `chophien-loadtest chat --peer socketio`.
//
// The smallest Socket.IO server that does what Chợ Phiên's chat fan-out does:
// every socket joins one room, and each "chat" event is re-broadcast to the
// whole room (sender included, as Chợ Phiên echoes chat to its sender).
// WebSocket transport only, no compression, so the comparison is about the
// fan-out itself. Listens on 127.0.0.1:$PORT and prints "listening <port>".
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 0);
const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  perMessageDeflate: false,
  serveClient: false,
  // Generous buffers: the load test measures throughput, not back-pressure.
  maxHttpBufferSize: 1e6,
});

const ROOM = "room";
io.on("connection", (socket) => {
  socket.join(ROOM);
  socket.on("chat", (payload) => {
    io.to(ROOM).emit("chat", payload);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
