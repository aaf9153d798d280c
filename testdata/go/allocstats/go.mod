module example.com/allocstats

go 1.21
