module starsbot

go 1.26
