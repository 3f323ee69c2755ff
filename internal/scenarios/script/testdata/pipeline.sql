-- a pipeline: the mux engine refuses it
\startpipeline
SELECT 1;
\endpipeline
