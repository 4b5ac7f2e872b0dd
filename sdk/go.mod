module starsbot/sdk

go 1.23
