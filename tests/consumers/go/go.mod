module tencent-chat-callbacks/consumers/go

go 1.19
