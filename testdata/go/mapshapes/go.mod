module example.com/mapshapes

go 1.21
